"""The notifier's domain, pure (no AWS, no environment, no clock):

- outcomes.py  which cities an event settles, when a run is complete, its outcome, repeats of a failure
- wording.py   how each outcome is said, once: the subject's tag, the headline, the section titles
- subject.py   the SNS subject (ASCII, one line, at most 100 characters)
- body.py      the email's text, section by section
- runbook.py   what each failure means and what to do: the fix, the commands, where the logs are
- delivery.py  the note an email carries when an earlier one could not be delivered (SNS down)
- text.py      safe_text, the one way event text enters an email; wrapping, durations, quoting
"""
