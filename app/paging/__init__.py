"""Paging: channels (Twilio SMS, Slack, log), message text, the outbox sender and throttle."""
