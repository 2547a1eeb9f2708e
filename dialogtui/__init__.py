"""dialogtui: a terminal chat client for the Dialog Intelligens chatbot API."""

__version__ = "0.1.0"
