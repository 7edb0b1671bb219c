"""Qpid Proton client used by thinggate's AMQP interop tests.

Modes (one JSON summary line on stdout):
  send     send --count messages to --address and count every disposition
  request  attach a receiver at --reply-to, send one request with reply-to and
           correlation-id, print the reply
  receive  attach a receiver at --address and print the first --count messages
"""
import argparse
import json
import sys

from proton import Delivery, Message
from proton.handlers import MessagingHandler
from proton.reactor import AtMostOnce, Container


def connect(container, args):
    mechs = args.mech or ("PLAIN" if "@" in args.url else "ANONYMOUS")
    if args.cert is None:
        return container.connect(args.url, allowed_mechs=mechs, allow_insecure_mechs=True)
    # TLS with a client certificate (mutual TLS); EXTERNAL takes the identity from it.
    from proton import SSLDomain
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_credentials(args.cert, args.key, None)
    domain.set_trusted_ca_db(args.ca)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    return container.connect(args.url, ssl_domain=domain, allowed_mechs=mechs, allow_insecure_mechs=True)


class Base(MessagingHandler):
    def __init__(self, args, **kw):
        super().__init__(**kw)
        self.args = args
        self.result = {}
        self.conn = None

    def finish(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def on_transport_error(self, event):
        cond = event.transport.condition
        self.result["transport_error"] = cond.name if cond else "transport error"
        self.finish()

    def on_connection_error(self, event):
        cond = event.connection.remote_condition
        self.result["connection_error"] = cond.name if cond else "connection error"
        self.finish()

    def on_link_error(self, event):
        cond = event.link.remote_condition
        self.result["link_error"] = cond.name if cond else "link error"
        self.finish()


class Send(Base):
    def __init__(self, args):
        super().__init__(args, auto_settle=True)
        self.sent = 0
        self.settled = 0
        self.max_credit = 0
        self.result = {"accepted": 0, "rejected": 0, "released": 0, "modified": 0, "conditions": []}

    def on_start(self, event):
        self.conn = connect(event.container, self.args)
        opts = [AtMostOnce()] if self.args.presettled else None
        event.container.create_sender(self.conn, self.args.address, options=opts)

    def on_sendable(self, event):
        s = event.sender
        self.max_credit = max(self.max_credit, s.credit)
        while s.credit > 0 and self.sent < self.args.count:
            body = ("m%d" % self.sent).encode()
            s.send(Message(body=body, id="py-%d" % self.sent, properties={"Seq": self.sent}, content_type="application/octet-stream", inferred=True))
            self.sent += 1
        if self.args.presettled and self.sent == self.args.count:
            self.finish()

    def settle(self):
        self.settled += 1
        if self.settled == self.args.count:
            self.finish()

    def on_accepted(self, event):
        self.result["accepted"] += 1
        self.settle()

    def on_rejected(self, event):
        self.result["rejected"] += 1
        cond = event.delivery.remote.condition
        self.result["conditions"].append(cond.name if cond else None)
        self.settle()

    def on_released(self, event):
        # Proton reports both released and modified here.
        key = "modified" if event.delivery.remote_state == Delivery.MODIFIED else "released"
        self.result[key] += 1
        self.settle()

    def summary(self):
        self.result["sent"] = self.sent
        self.result["max_credit"] = self.max_credit
        return self.result


class Request(Base):
    def on_start(self, event):
        self.conn = connect(event.container, self.args)
        event.container.create_receiver(self.conn, self.args.reply_to)
        self.sender = event.container.create_sender(self.conn, self.args.address)
        self.sent = False

    def on_sendable(self, event):
        if not self.sent:
            event.sender.send(Message(body="ping", reply_to=self.args.reply_to, correlation_id="corr-42", id="req-1"))
            self.sent = True

    def on_message(self, event):
        m = event.message
        body = m.body
        if isinstance(body, (bytes, bytearray, memoryview)):
            body = bytes(body).decode()
        self.result = {"body": body, "correlation_id": m.correlation_id, "status": (m.properties or {}).get("status")}
        self.finish()


class Receive(Base):
    def on_start(self, event):
        self.conn = connect(event.container, self.args)
        event.container.create_receiver(self.conn, self.args.address)
        self.result = {"messages": []}

    def on_link_opened(self, event):
        if event.receiver:
            print(json.dumps({"ready": True}), flush=True)

    def on_message(self, event):
        body = event.message.body
        if isinstance(body, (bytes, bytearray, memoryview)):
            body = bytes(body).decode()
        self.result["messages"].append(body)
        if len(self.result["messages"]) >= self.args.count:
            self.finish()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["send", "request", "receive"])
    p.add_argument("--url", required=True)
    p.add_argument("--address", default="telemetry/py")
    p.add_argument("--reply-to", default="replies/py")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--presettled", action="store_true")
    p.add_argument("--container-id", default="proton-interop")
    p.add_argument("--mech", default=None, help="SASL mechanisms to allow (default: PLAIN with credentials, else ANONYMOUS)")
    p.add_argument("--ca", default=None)
    p.add_argument("--cert", default=None)
    p.add_argument("--key", default=None)
    args = p.parse_args()
    handler = {"send": Send, "request": Request, "receive": Receive}[args.mode](args)
    container = Container(handler)
    # The open frame's container-id is thinggate's client id for this device.
    container.container_id = args.container_id
    container.run()
    out = handler.summary() if hasattr(handler, "summary") else handler.result
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
