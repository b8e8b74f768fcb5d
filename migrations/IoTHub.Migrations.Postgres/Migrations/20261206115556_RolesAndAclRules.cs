using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace IoTHub.Migrations.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class RolesAndAclRules : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "client_id",
                table: "acl_rules");

            migrationBuilder.DropColumn(
                name: "priority",
                table: "acl_rules");

            migrationBuilder.RenameColumn(
                name: "action",
                table: "acl_rules",
                newName: "actions");

            migrationBuilder.AddColumn<long>(
                name: "changed_at",
                table: "roles",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "created_at",
                table: "roles",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<string>(
                name: "description",
                table: "roles",
                type: "character varying(1024)",
                maxLength: 1024,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "superuser",
                table: "mqtt_users",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<bool>(
                name: "pattern",
                table: "acl_rules",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddCheckConstraint(
                name: "CK_acl_rules_actions",
                table: "acl_rules",
                sql: "actions BETWEEN 1 AND 3");

            migrationBuilder.AddCheckConstraint(
                name: "CK_acl_rules_one_owner",
                table: "acl_rules",
                sql: "user_id IS NULL OR role_id IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropCheckConstraint(
                name: "CK_acl_rules_actions",
                table: "acl_rules");

            migrationBuilder.DropCheckConstraint(
                name: "CK_acl_rules_one_owner",
                table: "acl_rules");

            migrationBuilder.DropColumn(
                name: "changed_at",
                table: "roles");

            migrationBuilder.DropColumn(
                name: "created_at",
                table: "roles");

            migrationBuilder.DropColumn(
                name: "description",
                table: "roles");

            migrationBuilder.DropColumn(
                name: "superuser",
                table: "mqtt_users");

            migrationBuilder.DropColumn(
                name: "pattern",
                table: "acl_rules");

            migrationBuilder.RenameColumn(
                name: "actions",
                table: "acl_rules",
                newName: "action");

            migrationBuilder.AddColumn<string>(
                name: "client_id",
                table: "acl_rules",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "priority",
                table: "acl_rules",
                type: "integer",
                nullable: false,
                defaultValue: 0);
        }
    }
}
