"""``@benchmark`` adds the seconds each call takes to ``self.stats['time_<method>']``."""

import time
from collections import defaultdict

from sosw.components.benchmark import benchmark


class Importer:
    def __init__(self):
        self.stats = defaultdict(int)  # a Processor's stats already are

    @benchmark
    def fetch(self, seconds):
        time.sleep(seconds)
        return seconds


importer = Importer()
importer.fetch(0.01)
importer.fetch(0.02)
assert 0.03 <= importer.stats["time_fetch"] < 1  # both calls, added up
print(f"time_fetch: {importer.stats['time_fetch']:.3f} s")
