"""paho-mqtt 5.0 clients A and B replaying the Paho test suite's test_subscribe_options no-local part.

Per trial: A and B connect (Clean Start 1), A subscribes to --topic with No Local and waits for its SUBACK,
B subscribes with No Local too, waiting for its SUBACK first only with --wait-suback 1 (the suite does not:
its second waitfor looks at A's SUBACKs again), and A publishes "first" at QoS 1 at once. Then B's SUBACK is
awaited and A publishes "second": B receives A's messages in order, so once "second" is in, B has all it will
ever get of "first". Prints one "trial" line per trial (b_first, b_second, a_own: counts), then "done".
With --leftovers, each trial first leaves both ids connected, as the suite's earlier tests do, so that
the trial's CONNECTs take those connections over.
"""
import argparse

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from paho_common import Session, arguments, emit


class Peer(Session):
    """A Session that records its SUBACKs, PUBACKs and messages."""

    def __init__(self, args, client_id):
        super().__init__(argparse.Namespace(**{**vars(args), "client_id": client_id}))
        self.subacks, self.acks, self.messages = [], [], []
        self.client.on_subscribe = lambda client, userdata, mid, granted, properties=None: self.subacks.append(mid)
        self.client.on_publish = lambda client, userdata, mid: self.acks.append(mid)
        self.client.on_message = lambda client, userdata, message: self.messages.append(message.payload.decode())

    def subscribe_no_local(self, topic):
        return self.client.subscribe(topic, options=SubscribeOptions(qos=2, noLocal=True))[1]


def run_all(peers, condition):
    """Runs every peer's loop until the condition holds (exit 2 at the first one's deadline)."""
    def step():
        for peer in peers[1:]:
            peer.client.loop(timeout=0.01)
        return condition()

    peers[0].run_until(step)


def main():
    parser = arguments(__doc__)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--wait-suback", type=int, choices=[0, 1], default=1)
    parser.add_argument("--leftovers", action="store_true")
    args = parser.parse_args()
    args.protocol = "5"

    leftovers = []
    for trial in range(args.trials):
        if args.leftovers:
            for suffix in ("a", "b"):
                leftover = Peer(args, f"{args.client_id}-{suffix}")
                leftover.connect()
                leftovers.append(leftover)

        a, b = Peer(args, f"{args.client_id}-a"), Peer(args, f"{args.client_id}-b")
        a.connect()
        b.connect()
        a_subscribed = a.subscribe_no_local(args.topic)
        run_all([a, b], lambda: a_subscribed in a.subacks)
        b_subscribed = b.subscribe_no_local(args.topic)
        if args.wait_suback:
            run_all([a, b], lambda: b_subscribed in b.subacks)
        first = a.client.publish(args.topic, b"first", qos=1).mid
        run_all([a, b], lambda: b_subscribed in b.subacks and first in a.acks)
        second = a.client.publish(args.topic, b"second", qos=1).mid
        run_all([a, b], lambda: second in a.acks and "second" in b.messages)
        emit("trial", trial=trial, b_first=b.messages.count("first"), b_second=b.messages.count("second"),
             a_own=len(a.messages))
        for peer in (a, b):
            peer.client.disconnect()  # written at once: no loop runs in another thread
    emit("done", trials=args.trials)


if __name__ == "__main__":
    main()
