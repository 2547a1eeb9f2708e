"""The app's screens: `main` maps the conversation core's events to widgets."""
