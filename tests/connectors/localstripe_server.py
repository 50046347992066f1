"""Run localstripe on 127.0.0.1:<port> for the tests (python localstripe_server.py PORT).

Two changes to the stock server, both outside what the tests check: it keeps its store in
memory (stock localstripe pickles it to /tmp/localstripe.pickle, which parallel test runs
would share) and listens on 127.0.0.1 only (stock: every interface). PaymentIntents also accept
`description` and `receipt_email`, which real Stripe takes and localstripe 1.15 refuses.
"""

from __future__ import annotations

import sys

from aiohttp import web
from localstripe import resources, server


def main(port: int) -> None:
    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    create = resources.PaymentIntent.__init__

    def init(self, description=None, receipt_email=None, **kwargs):
        create(self, **kwargs)
        self.description = description
        self.receipt_email = receipt_email

    resources.PaymentIntent.__init__ = init  # type: ignore[method-assign]
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
