"""Parses a Berth metrics scrape (read from standard input) with the Prometheus client
library's parsers and prints what it found as JSON:

    {"families": {name: type}, "samples": [[name, {label: value}, value], ...]}

Both parsers must accept the text and read the same samples from it: the strict OpenMetrics
parser, which is how Prometheus reads this content type (it also checks the `# EOF` end, units
and counter suffixes, and gives the families and their types), and the Prometheus text-format
parser (prometheus_client.parser). Exits non-zero, with the complaint, if either refuses it or
they disagree.
"""

import json
import sys

from prometheus_client import parser as text
from prometheus_client.openmetrics import parser as openmetrics


def samples_of(families):
    found = [[s.name, dict(s.labels), s.value] for f in families for s in f.samples]
    return sorted(found, key=lambda s: (s[0], sorted(s[1].items())))


exposition = sys.stdin.read()

strict = list(openmetrics.text_string_to_metric_families(exposition))
plain = list(text.text_string_to_metric_families(exposition))

samples = samples_of(strict)
if samples != samples_of(plain):
    sys.exit(f"the parsers read different samples:\n{samples}\n{samples_of(plain)}")

json.dump({"families": {f.name: f.type for f in strict}, "samples": samples}, sys.stdout)
