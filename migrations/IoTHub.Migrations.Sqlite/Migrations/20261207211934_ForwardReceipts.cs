using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace IoTHub.Migrations.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class ForwardReceipts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "forward_fences",
                columns: table => new
                {
                    node = table.Column<string>(type: "TEXT", nullable: false),
                    fenced = table.Column<bool>(type: "INTEGER", nullable: false),
                    touched_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_forward_fences", x => x.node);
                });

            migrationBuilder.CreateTable(
                name: "forward_receipts",
                columns: table => new
                {
                    from_node = table.Column<string>(type: "TEXT", nullable: false),
                    to_node = table.Column<string>(type: "TEXT", nullable: false),
                    sequence = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_forward_receipts", x => new { x.from_node, x.to_node, x.sequence });
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "forward_fences");

            migrationBuilder.DropTable(
                name: "forward_receipts");
        }
    }
}
