using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace IoTHub.Migrations.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class MessageExpiry : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "expires_at",
                table: "retained_messages",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "expires_at",
                table: "queued_messages",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "expiry_interval",
                table: "pending_wills",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "expires_at",
                table: "outgoing_inflight",
                type: "bigint",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "expires_at",
                table: "retained_messages");

            migrationBuilder.DropColumn(
                name: "expires_at",
                table: "queued_messages");

            migrationBuilder.DropColumn(
                name: "expiry_interval",
                table: "pending_wills");

            migrationBuilder.DropColumn(
                name: "expires_at",
                table: "outgoing_inflight");
        }
    }
}
