"""Conversation tests for bots (`dialogtui test`): TOML test files, expectations, reports.

Textual-free and light: `testfile`, `expect` and `report` need only the standard library and
`dialogtui.text`; the runner imports the client when it plays a file.
"""
