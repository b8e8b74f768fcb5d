"""Shared parts of the paho-mqtt interop clients: arguments, connecting, a bounded loop, JSON event lines."""
import argparse
import json
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def emit(event, **fields):
    """One JSON object per line on stdout: the test reads these."""
    fields["event"] = event
    print(json.dumps(fields), flush=True)


def arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", default="")
    parser.add_argument("--protocol", choices=["311", "5"], default="311")
    parser.add_argument("--clean", type=int, choices=[0, 1], default=1,
                        help="Clean Session (3.1.1) or Clean Start (5.0)")
    parser.add_argument("--session-expiry", type=int, default=0, help="5.0 Session Expiry Interval, seconds")
    parser.add_argument("--keepalive", type=int, default=60)
    parser.add_argument("--username", help="user name for CONNECT (none: anonymous)")
    parser.add_argument("--password", help="password for CONNECT")
    parser.add_argument("--timeout", type=float, default=30, help="give up (exit 2) after this many seconds")
    parser.add_argument("--transport", choices=["tcp", "websockets"], default="tcp")
    parser.add_argument("--path", default="/mqtt", help="the WebSocket path")
    parser.add_argument("--cafile", help="TLS: the certificate authority of the server's certificate")
    return parser


class Session:
    """A paho client driven by its single-threaded loop() until a condition holds or the deadline passes."""

    def __init__(self, args):
        self.args = args
        self.v5 = args.protocol == "5"
        self.deadline = time.monotonic() + args.timeout
        self.connack = None
        self.disconnected = False
        if self.v5:
            self.client = mqtt.Client(client_id=args.client_id, protocol=mqtt.MQTTv5, transport=args.transport)
        else:
            self.client = mqtt.Client(client_id=args.client_id, clean_session=bool(args.clean),
                                      protocol=mqtt.MQTTv311, transport=args.transport)
        if args.transport == "websockets":
            self.client.ws_set_options(path=args.path)
        if args.cafile:
            self.client.tls_set(ca_certs=args.cafile)
        if args.username is not None:
            self.client.username_pw_set(args.username, args.password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connack = (int(flags.get("session present", 0)), int(rc.value if hasattr(rc, "value") else rc))
        emit("connack", session_present=self.connack[0], rc=self.connack[1])

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnected = True

    def connect(self, **connect_properties):
        """Connects and waits for CONNACK; 5.0 CONNECT properties may be given by name (MaximumPacketSize=64)."""
        if self.v5:
            properties = Properties(PacketTypes.CONNECT)
            if self.args.session_expiry:
                properties.SessionExpiryInterval = self.args.session_expiry
            for name, value in connect_properties.items():
                setattr(properties, name, value)
            self.client.connect(self.args.host, self.args.port, self.args.keepalive,
                                clean_start=bool(self.args.clean), properties=properties)
        else:
            self.client.connect(self.args.host, self.args.port, self.args.keepalive)
        self.run_until(lambda: self.connack is not None)
        if self.connack[1] != 0:
            emit("refused", rc=self.connack[1])
            sys.exit(4)

    def run_until(self, condition):
        while not condition():
            if time.monotonic() > self.deadline:
                emit("timeout")
                sys.exit(2)
            rc = self.client.loop(timeout=0.05)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                emit("connection_lost", rc=rc)
                sys.exit(3)

    def disconnect(self):
        self.client.disconnect()
        # loop() reports the closed socket as an error once DISCONNECT is out; that is the normal end here.
        while not self.disconnected and time.monotonic() < self.deadline:
            if self.client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                break
        emit("done")
