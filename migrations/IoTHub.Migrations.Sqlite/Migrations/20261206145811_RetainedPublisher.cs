using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace IoTHub.Migrations.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class RetainedPublisher : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "publisher_client_id",
                table: "retained_messages",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "publisher_user_name",
                table: "retained_messages",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "stored_at",
                table: "retained_messages",
                type: "INTEGER",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "publisher_client_id",
                table: "retained_messages");

            migrationBuilder.DropColumn(
                name: "publisher_user_name",
                table: "retained_messages");

            migrationBuilder.DropColumn(
                name: "stored_at",
                table: "retained_messages");
        }
    }
}
