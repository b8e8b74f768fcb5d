using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace IoTHub.Migrations.Postgres.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "pending_wills",
                columns: table => new
                {
                    client_id = table.Column<string>(type: "text", nullable: false),
                    delay_interval = table.Column<long>(type: "bigint", nullable: false),
                    due_at = table.Column<long>(type: "bigint", nullable: false),
                    topic = table.Column<string>(type: "text", nullable: false),
                    message_qos = table.Column<short>(type: "smallint", nullable: false),
                    message_retain = table.Column<bool>(type: "boolean", nullable: false),
                    properties = table.Column<byte[]>(type: "bytea", nullable: false),
                    payload = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_pending_wills", x => x.client_id);
                });

            migrationBuilder.CreateTable(
                name: "retained_messages",
                columns: table => new
                {
                    topic = table.Column<string>(type: "text", nullable: false),
                    qos = table.Column<short>(type: "smallint", nullable: false),
                    retain = table.Column<bool>(type: "boolean", nullable: false),
                    properties = table.Column<byte[]>(type: "bytea", nullable: false),
                    payload = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_retained_messages", x => x.topic);
                });

            migrationBuilder.CreateTable(
                name: "roles",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    name = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_roles", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "sessions",
                columns: table => new
                {
                    client_id = table.Column<string>(type: "text", nullable: false),
                    expiry_interval = table.Column<long>(type: "bigint", nullable: false),
                    disconnected_at = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_sessions", x => x.client_id);
                });

            migrationBuilder.CreateTable(
                name: "users",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    user_name = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    password_hash = table.Column<string>(type: "text", nullable: false),
                    enabled = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_users", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "incoming_qos2",
                columns: table => new
                {
                    client_id = table.Column<string>(type: "text", nullable: false),
                    packet_id = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_incoming_qos2", x => new { x.client_id, x.packet_id });
                    table.ForeignKey(
                        name: "FK_incoming_qos2_sessions_client_id",
                        column: x => x.client_id,
                        principalTable: "sessions",
                        principalColumn: "client_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "outgoing_inflight",
                columns: table => new
                {
                    client_id = table.Column<string>(type: "text", nullable: false),
                    packet_id = table.Column<int>(type: "integer", nullable: false),
                    sequence = table.Column<long>(type: "bigint", nullable: false),
                    qos = table.Column<short>(type: "smallint", nullable: false),
                    retain = table.Column<bool>(type: "boolean", nullable: false),
                    released = table.Column<bool>(type: "boolean", nullable: false),
                    topic = table.Column<string>(type: "text", nullable: false),
                    message_qos = table.Column<short>(type: "smallint", nullable: false),
                    message_retain = table.Column<bool>(type: "boolean", nullable: false),
                    properties = table.Column<byte[]>(type: "bytea", nullable: false),
                    payload = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_outgoing_inflight", x => new { x.client_id, x.packet_id });
                    table.ForeignKey(
                        name: "FK_outgoing_inflight_sessions_client_id",
                        column: x => x.client_id,
                        principalTable: "sessions",
                        principalColumn: "client_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "queued_messages",
                columns: table => new
                {
                    client_id = table.Column<string>(type: "text", nullable: false),
                    sequence = table.Column<long>(type: "bigint", nullable: false),
                    qos = table.Column<short>(type: "smallint", nullable: false),
                    retain = table.Column<bool>(type: "boolean", nullable: false),
                    topic = table.Column<string>(type: "text", nullable: false),
                    message_qos = table.Column<short>(type: "smallint", nullable: false),
                    message_retain = table.Column<bool>(type: "boolean", nullable: false),
                    properties = table.Column<byte[]>(type: "bytea", nullable: false),
                    payload = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_queued_messages", x => new { x.client_id, x.sequence });
                    table.ForeignKey(
                        name: "FK_queued_messages_sessions_client_id",
                        column: x => x.client_id,
                        principalTable: "sessions",
                        principalColumn: "client_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "subscriptions",
                columns: table => new
                {
                    client_id = table.Column<string>(type: "text", nullable: false),
                    topic_filter = table.Column<string>(type: "text", nullable: false),
                    qos = table.Column<short>(type: "smallint", nullable: false),
                    no_local = table.Column<bool>(type: "boolean", nullable: false),
                    retain_as_published = table.Column<bool>(type: "boolean", nullable: false),
                    retain_handling = table.Column<short>(type: "smallint", nullable: false),
                    subscription_id = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_subscriptions", x => new { x.client_id, x.topic_filter });
                    table.ForeignKey(
                        name: "FK_subscriptions_sessions_client_id",
                        column: x => x.client_id,
                        principalTable: "sessions",
                        principalColumn: "client_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "acl_rules",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    user_id = table.Column<int>(type: "integer", nullable: true),
                    role_id = table.Column<int>(type: "integer", nullable: true),
                    client_id = table.Column<string>(type: "text", nullable: true),
                    topic_filter = table.Column<string>(type: "text", nullable: false),
                    action = table.Column<short>(type: "smallint", nullable: false),
                    allow = table.Column<bool>(type: "boolean", nullable: false),
                    priority = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_acl_rules", x => x.id);
                    table.ForeignKey(
                        name: "FK_acl_rules_roles_role_id",
                        column: x => x.role_id,
                        principalTable: "roles",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_acl_rules_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "user_roles",
                columns: table => new
                {
                    user_id = table.Column<int>(type: "integer", nullable: false),
                    role_id = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_user_roles", x => new { x.user_id, x.role_id });
                    table.ForeignKey(
                        name: "FK_user_roles_roles_role_id",
                        column: x => x.role_id,
                        principalTable: "roles",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_user_roles_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_acl_rules_role_id",
                table: "acl_rules",
                column: "role_id");

            migrationBuilder.CreateIndex(
                name: "IX_acl_rules_user_id",
                table: "acl_rules",
                column: "user_id");

            migrationBuilder.CreateIndex(
                name: "IX_roles_name",
                table: "roles",
                column: "name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_user_roles_role_id",
                table: "user_roles",
                column: "role_id");

            migrationBuilder.CreateIndex(
                name: "IX_users_user_name",
                table: "users",
                column: "user_name",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "acl_rules");

            migrationBuilder.DropTable(
                name: "incoming_qos2");

            migrationBuilder.DropTable(
                name: "outgoing_inflight");

            migrationBuilder.DropTable(
                name: "pending_wills");

            migrationBuilder.DropTable(
                name: "queued_messages");

            migrationBuilder.DropTable(
                name: "retained_messages");

            migrationBuilder.DropTable(
                name: "subscriptions");

            migrationBuilder.DropTable(
                name: "user_roles");

            migrationBuilder.DropTable(
                name: "sessions");

            migrationBuilder.DropTable(
                name: "roles");

            migrationBuilder.DropTable(
                name: "users");
        }
    }
}
