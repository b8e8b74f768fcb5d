using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace IoTHub.Migrations.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class AuditSource : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "source",
                table: "audit_log",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "api");

            // Rows written before: the dashboard wrote its changes as "dashboard: ..." and its failed logins as POST /login; API keys act as apikey:{name}.
            migrationBuilder.Sql("UPDATE audit_log SET source = 'dashboard' WHERE action LIKE 'dashboard: %' OR action = 'POST /login';");
            migrationBuilder.Sql("UPDATE audit_log SET source = 'api-key' WHERE actor LIKE 'apikey:%' AND action LIKE '% /api/v1/%';");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "source",
                table: "audit_log");
        }
    }
}
