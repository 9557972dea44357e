"""The application: settings, web app, pipeline worker, scheduler, console and CLI."""
