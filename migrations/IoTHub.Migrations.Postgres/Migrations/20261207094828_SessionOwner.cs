using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace IoTHub.Migrations.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class SessionOwner : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "owner_node",
                table: "sessions",
                type: "text",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_sessions_owner_node",
                table: "sessions",
                column: "owner_node");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_sessions_owner_node",
                table: "sessions");

            migrationBuilder.DropColumn(
                name: "owner_node",
                table: "sessions");
        }
    }
}
