using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace IoTHub.Migrations.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class ConnectionWills : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "connection_wills",
                columns: table => new
                {
                    client_id = table.Column<string>(type: "TEXT", nullable: false),
                    owner_node = table.Column<string>(type: "TEXT", nullable: false),
                    connection = table.Column<long>(type: "INTEGER", nullable: false),
                    delay_interval = table.Column<long>(type: "INTEGER", nullable: false),
                    expiry_interval = table.Column<long>(type: "INTEGER", nullable: true),
                    topic = table.Column<string>(type: "TEXT", nullable: false),
                    message_qos = table.Column<short>(type: "INTEGER", nullable: false),
                    message_retain = table.Column<bool>(type: "INTEGER", nullable: false),
                    properties = table.Column<byte[]>(type: "BLOB", nullable: false),
                    payload = table.Column<byte[]>(type: "BLOB", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_connection_wills", x => x.client_id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_connection_wills_owner_node",
                table: "connection_wills",
                column: "owner_node");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "connection_wills");
        }
    }
}
