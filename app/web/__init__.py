"""Dashboard: server-rendered pages and sign-in."""
