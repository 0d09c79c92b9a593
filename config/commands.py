"""What every operator command shares: `--help` ends with worked examples."""

from __future__ import annotations

from django.core.management.base import BaseCommand, DjangoHelpFormatter

EXAMPLES_HEADING = "Example"


class _HelpFormatter(DjangoHelpFormatter):
    """Django's help, with the examples printed line by line as written (not re-wrapped)."""

    def _fill_text(self, text, width, indent):
        if text.startswith(EXAMPLES_HEADING):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class OperatorCommand(BaseCommand):
    """A management command whose `--help` shows `examples` (one command line each)."""

    examples: tuple[str, ...] = ()

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = _HelpFormatter
        if self.examples:
            lines = "\n".join(f"  python manage.py {example}" for example in self.examples)
            plural = "s" if len(self.examples) > 1 else ""
            parser.epilog = f"{EXAMPLES_HEADING}{plural}:\n{lines}"
        return parser
