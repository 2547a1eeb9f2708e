"""Terminal user interface widgets of dialogtui."""
