using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace IoTHub.Migrations.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class ClusterMembership : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "cluster_versions",
                columns: table => new
                {
                    cluster_id = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    version = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_cluster_versions", x => x.cluster_id);
                });

            migrationBuilder.CreateTable(
                name: "cluster_members",
                columns: table => new
                {
                    cluster_id = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    address = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    port = table.Column<int>(type: "INTEGER", nullable: false),
                    generation = table.Column<int>(type: "INTEGER", nullable: false),
                    silo_name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    host_name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    status = table.Column<int>(type: "INTEGER", nullable: false),
                    proxy_port = table.Column<int>(type: "INTEGER", nullable: false),
                    suspect_times = table.Column<string>(type: "TEXT", nullable: false),
                    start_time = table.Column<long>(type: "INTEGER", nullable: false),
                    i_am_alive_time = table.Column<long>(type: "INTEGER", nullable: false),
                    etag = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_cluster_members", x => new { x.cluster_id, x.address, x.port, x.generation });
                    table.ForeignKey(
                        name: "FK_cluster_members_cluster_versions_cluster_id",
                        column: x => x.cluster_id,
                        principalTable: "cluster_versions",
                        principalColumn: "cluster_id",
                        onDelete: ReferentialAction.Cascade);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "cluster_members");

            migrationBuilder.DropTable(
                name: "cluster_versions");
        }
    }
}
