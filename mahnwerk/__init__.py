"""The program: the `mahnwerk` command line, `serve`, the composed WSGI app and the demo."""
