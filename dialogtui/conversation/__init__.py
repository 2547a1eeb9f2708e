"""The conversation core: one conversation with one bot, for every front-end.

`core.Conversation` opens, sends, retries, cancels, starts over, switches, rates and submits;
it records every turn through one recorder (`record`) and tells its views what happened
through a few typed events (`events`). The app's main screen, `send`, `run` and `replay` are
views of it. Nothing here knows of Textual.

Kept free of imports so that `conversation.outcome` costs a view nothing more.
"""
