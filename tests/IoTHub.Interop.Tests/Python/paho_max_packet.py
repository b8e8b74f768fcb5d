"""paho-mqtt 5.0 client that publishes to its own subscription messages larger than its Maximum Packet Size.

Connects with --maximum-packet-size, subscribes to --filter at QoS 2, then publishes in turn each
--message TOPIC:QOS:SIZE (SIZE bytes of payload) and waits until every flow is complete (PUBACK, or PUBREC and
PUBCOMP) and the last message came back. Prints "published" with the packet ids acknowledged, one "message" line
per delivery (topic, size), then disconnects.
"""
from paho_common import Session, arguments, emit


def main():
    parser = arguments(__doc__)
    parser.add_argument("--maximum-packet-size", type=int, required=True)
    parser.add_argument("--filter", required=True)
    parser.add_argument("--message", action="append", default=[], help="TOPIC:QOS:SIZE, repeatable; the last must fit")
    args = parser.parse_args()
    args.protocol = "5"

    session = Session(args)
    client = session.client
    subscribed, acknowledged, received = [], [], []
    client.on_subscribe = lambda c, userdata, mid, granted, properties=None: subscribed.append(mid)
    client.on_publish = lambda c, userdata, mid: acknowledged.append(mid)

    def on_message(c, userdata, message):
        received.append(message.topic)
        emit("message", topic=message.topic, size=len(message.payload))

    client.on_message = on_message

    session.connect(MaximumPacketSize=args.maximum_packet_size)
    mid = client.subscribe(args.filter, qos=2)[1]
    session.run_until(lambda: mid in subscribed)

    sent = []
    for item in args.message:
        topic, qos, size = item.rsplit(":", 2)
        sent.append(client.publish(topic, b"x" * int(size), qos=int(qos)).mid)
    last = args.message[-1].rsplit(":", 2)[0]
    session.run_until(lambda: all(mid in acknowledged for mid in sent) and last in received)
    emit("published", sent=sent, acknowledged=sorted(acknowledged))
    session.disconnect()


if __name__ == "__main__":
    main()
