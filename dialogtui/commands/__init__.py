"""Command implementations, imported lazily by `dialogtui.cli`."""
