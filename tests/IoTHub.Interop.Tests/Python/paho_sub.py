"""paho-mqtt subscriber for the interop tests.

Connects, subscribes to every --sub FILTER:QOS (if any), prints "suback", then prints one "message" line
per PUBLISH delivered to the application and disconnects once --count messages arrived (--count 0:
right after SUBACK, which leaves a persistent session with its subscriptions behind).
"""
import binascii

from paho_common import Session, arguments, emit


def main():
    parser = arguments(__doc__)
    parser.add_argument("--sub", action="append", default=[], help="FILTER:QOS, repeatable")
    parser.add_argument("--count", type=int, default=0)
    args = parser.parse_args()

    session = Session(args)
    received = []
    subscribed = []

    def on_message(client, userdata, message):
        properties = getattr(message, "properties", None)  # absent on 3.1.1 messages
        received.append(message)
        emit("message", topic=message.topic, qos=message.qos, retain=int(message.retain), dup=int(message.dup),
             payload_hex=binascii.hexlify(message.payload).decode(),
             content_type=getattr(properties, "ContentType", None),
             user_properties=[list(pair) for pair in getattr(properties, "UserProperty", [])])

    def on_subscribe(client, userdata, mid, granted, properties=None):
        codes = [code.value if hasattr(code, "value") else code for code in granted]
        emit("suback", granted=codes)
        subscribed.append(mid)

    session.client.on_message = on_message
    session.client.on_subscribe = on_subscribe
    session.connect()
    if args.sub:
        filters = [(item.rsplit(":", 1)[0], int(item.rsplit(":", 1)[1])) for item in args.sub]
        session.client.subscribe(filters)
        session.run_until(lambda: subscribed)
    session.run_until(lambda: len(received) >= args.count)
    session.disconnect()


if __name__ == "__main__":
    main()
