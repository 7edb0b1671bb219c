"""A device on Qpid Proton that takes one command and answers it.

It attaches a receiver at --address (its command address), accepts the
first message, sends the answer to the message's reply-to with the
message's correlation-id, and prints one JSON line: the command's body,
correlation id and reply-to, and the outcome of the answer.
"""
import argparse
import json

from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Device(MessagingHandler):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.result = {}
        self.conn = None

    def on_start(self, event):
        self.conn = event.container.connect(self.args.url, allowed_mechs="ANONYMOUS", allow_insecure_mechs=True)
        event.container.create_receiver(self.conn, self.args.address)

    def on_message(self, event):
        m = event.message
        body = m.body.tobytes().decode() if hasattr(m.body, "tobytes") else (m.body.decode() if isinstance(m.body, bytes) else m.body)
        self.result.update(body=body, correlation_id=str(m.correlation_id), reply_to=m.reply_to)
        sender = event.container.create_sender(self.conn, m.reply_to)
        sender.send(Message(body=self.args.answer, correlation_id=m.correlation_id, content_type="text/plain"))

    def on_accepted(self, event):
        self.result["answer"] = "accepted"
        self.conn.close()

    def on_rejected(self, event):
        self.result["answer"] = "rejected"
        self.conn.close()

    def on_transport_error(self, event):
        self.result["transport_error"] = str(event.transport.condition)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--address", required=True)
    p.add_argument("--container-id", required=True)
    p.add_argument("--answer", default="done")
    args = p.parse_args()
    handler = Device(args)
    container = Container(handler)
    # The open frame's container-id is thinggate's client id for this device.
    container.container_id = args.container_id
    container.run()
    print(json.dumps(handler.result), flush=True)


if __name__ == "__main__":
    main()
