"""An SMTP sink for the password reset tests: accepts every message on 127.0.0.1:PORT and
writes each to DIR/<n>.txt (written whole, then renamed into place): its envelope recipients,
From, To and Subject, a blank line, then the decoded plain-text body.

Usage: python smtp_sink.py PORT DIR. Prints "ready" once it accepts connections.
"""

import email
import email.policy
import os
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.directory, "%04d.txt" % self.count)
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        text = "Envelope-To: %s\nFrom: %s\nTo: %s\nSubject: %s\nContent-Type: %s\n\n%s" % (
            ",".join(envelope.rcpt_tos),
            message["From"],
            message["To"],
            message["Subject"],
            message.get_content_type(),
            message.get_content(),
        )
        with open(path + ".part", "w", encoding="utf-8") as f:
            f.write(text)
        os.rename(path + ".part", path)
        return "250 OK"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
