using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace IoTHub.Migrations.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class MqttUsers : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "FK_acl_rules_users_user_id",
                table: "acl_rules");

            migrationBuilder.DropForeignKey(
                name: "FK_user_roles_users_user_id",
                table: "user_roles");

            migrationBuilder.DropPrimaryKey(
                name: "PK_users",
                table: "users");

            migrationBuilder.RenameTable(
                name: "users",
                newName: "mqtt_users");

            migrationBuilder.RenameIndex(
                name: "IX_users_user_name",
                table: "mqtt_users",
                newName: "IX_mqtt_users_user_name");

            migrationBuilder.AddColumn<long>(
                name: "changed_at",
                table: "mqtt_users",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<string>(
                name: "client_id_pattern",
                table: "mqtt_users",
                type: "TEXT",
                maxLength: 256,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "created_at",
                table: "mqtt_users",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddPrimaryKey(
                name: "PK_mqtt_users",
                table: "mqtt_users",
                column: "id");

            migrationBuilder.AddForeignKey(
                name: "FK_acl_rules_mqtt_users_user_id",
                table: "acl_rules",
                column: "user_id",
                principalTable: "mqtt_users",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);

            migrationBuilder.AddForeignKey(
                name: "FK_user_roles_mqtt_users_user_id",
                table: "user_roles",
                column: "user_id",
                principalTable: "mqtt_users",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "FK_acl_rules_mqtt_users_user_id",
                table: "acl_rules");

            migrationBuilder.DropForeignKey(
                name: "FK_user_roles_mqtt_users_user_id",
                table: "user_roles");

            migrationBuilder.DropPrimaryKey(
                name: "PK_mqtt_users",
                table: "mqtt_users");

            migrationBuilder.DropColumn(
                name: "changed_at",
                table: "mqtt_users");

            migrationBuilder.DropColumn(
                name: "client_id_pattern",
                table: "mqtt_users");

            migrationBuilder.DropColumn(
                name: "created_at",
                table: "mqtt_users");

            migrationBuilder.RenameTable(
                name: "mqtt_users",
                newName: "users");

            migrationBuilder.RenameIndex(
                name: "IX_mqtt_users_user_name",
                table: "users",
                newName: "IX_users_user_name");

            migrationBuilder.AddPrimaryKey(
                name: "PK_users",
                table: "users",
                column: "id");

            migrationBuilder.AddForeignKey(
                name: "FK_acl_rules_users_user_id",
                table: "acl_rules",
                column: "user_id",
                principalTable: "users",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);

            migrationBuilder.AddForeignKey(
                name: "FK_user_roles_users_user_id",
                table: "user_roles",
                column: "user_id",
                principalTable: "users",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);
        }
    }
}
