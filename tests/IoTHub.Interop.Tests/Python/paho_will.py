"""paho-mqtt client with a will, for the interop will tests.

Connects with a will (--will-topic, --will-payload, --will-qos, --will-retain; on 5.0 --will-delay sets
the Will Delay Interval), prints "connack", then, by --then:
  loop        keeps its loop running (it answers and pings) until killed;
  silent      stops calling the loop: nothing more is sent, no PINGREQ, until killed;
  disconnect  sends a normal DISCONNECT (0x00) and exits.
"""
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from paho_common import Session, arguments, emit


def main():
    parser = arguments(__doc__)
    parser.add_argument("--will-topic", required=True)
    parser.add_argument("--will-payload", default="")
    parser.add_argument("--will-qos", type=int, choices=[0, 1, 2], default=0)
    parser.add_argument("--will-retain", action="store_true")
    parser.add_argument("--will-delay", type=int, default=0, help="5.0 Will Delay Interval, seconds")
    parser.add_argument("--then", choices=["loop", "silent", "disconnect"], default="loop")
    args = parser.parse_args()

    session = Session(args)
    will_properties = None
    if session.v5 and args.will_delay:
        will_properties = Properties(PacketTypes.WILLMESSAGE)
        will_properties.WillDelayInterval = args.will_delay
    session.client.will_set(args.will_topic, args.will_payload.encode(), qos=args.will_qos, retain=args.will_retain,
                            properties=will_properties)
    session.connect()
    if args.then == "disconnect":
        session.disconnect()
    elif args.then == "silent":
        emit("silent")
        while True:
            time.sleep(1)  # the socket stays open, nothing is read or written: the test kills the process
    else:
        session.run_until(lambda: False)  # ends by the deadline (exit 2) unless killed first


if __name__ == "__main__":
    main()
