"""paho-mqtt publisher for the interop tests.

Publishes each --message (in order; --empty adds a zero-byte payload) to --topic, waits until each
publish flow is complete (PUBACK / PUBCOMP), prints "published" and disconnects.
"""
from paho_common import Session, arguments, emit


def main():
    parser = arguments(__doc__)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--qos", type=int, choices=[0, 1, 2], default=0)
    parser.add_argument("--retain", action="store_true")
    parser.add_argument("--message", action="append", default=[])
    parser.add_argument("--empty", action="store_true", help="publish one zero-byte payload after the messages")
    args = parser.parse_args()

    session = Session(args)
    session.connect()
    payloads = [message.encode() for message in args.message] + ([b""] if args.empty else [])
    for payload in payloads:
        info = session.client.publish(args.topic, payload, qos=args.qos, retain=args.retain)
        session.run_until(info.is_published)
    emit("published", count=len(payloads))
    session.disconnect()


if __name__ == "__main__":
    main()
