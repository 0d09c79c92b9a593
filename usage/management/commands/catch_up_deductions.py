from __future__ import annotations

from config.commands import OperatorCommand
from usage.services.deductions import deductions_catch_up


class Command(OperatorCommand):
    help = "Charge every complete prepaid usage day not yet fully deducted (also nightly)."
    examples = ("catch_up_deductions",)

    def handle(self, *args, **options):
        sweep = deductions_catch_up()
        for entry in sweep.caught_up:
            self.stdout.write(
                f"caught up usage day {entry['usage_day']} ({entry['date']}, user "
                f"{entry['user']}): {entry['cents']:+d} cents"
            )
        self.stdout.write(
            f"{sweep.days_checked} prepaid days checked, {sweep.days_caught_up} caught up."
        )
        if sweep.errors:
            self.stderr.write(sweep.errors)
