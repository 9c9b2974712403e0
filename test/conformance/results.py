#!/usr/bin/python3
"""Summarise a subunit v2 stream (stestr last --subunit) on stdin as JSON on stdout:
{"passed": N, "skipped": K, "failed": [{"id": ..., "error": first error line}], "skip_reasons": {...}}."""
import json
import sys

import subunit
import testtools

counts = {'success': 0, 'skip': 0}
failed = []
# Per suite (tempest.api.network, neutron_tempest_plugin.api, neutron_tempest_plugin.fwaas.api...).
suites = {}


def suite_of(test_id):
    name = test_id.split('(')[-1].rstrip(')') if test_id.startswith(('setUpClass', 'tearDownClass')) else test_id
    parts = name.split('.')
    return '.'.join(parts[:3] if parts[:2] == ['neutron_tempest_plugin', 'fwaas'] else parts[:3] if parts[0] == 'tempest' else parts[:2])
skip_reasons = {}


def first_error_line(details):
    for name in ('traceback', 'reason'):
        content = details.get(name)
        if content is None:
            continue
        text = ''.join(part.decode('utf-8', 'replace') if isinstance(part, bytes) else part for part in content.iter_bytes())
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        # The last non-empty line of a traceback is the exception and its message.
        return lines[-1] if name == 'traceback' and lines else (lines[0] if lines else '')
    return ''


def on_test(test):
    status = test['status']
    test_id = test['id'].split('[')[0]
    if test_id.startswith('setUpClass (') or test_id.startswith('tearDownClass ('):
        test_id = test['id']
    suite = suites.setdefault(suite_of(test['id']), {'passed': 0, 'failed': 0, 'skipped': 0})
    if status == 'success':
        counts['success'] += 1
        suite['passed'] += 1
    elif status == 'skip':
        counts['skip'] += 1
        suite['skipped'] += 1
        reason = first_error_line(test['details'])
        skip_reasons[reason] = skip_reasons.get(reason, 0) + 1
    elif status in ('fail', 'uxsuccess'):
        failed.append({'id': test_id, 'error': first_error_line(test['details'])})
        suite['failed'] += 1


stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name='stdout')
result = testtools.StreamToDict(on_test)
result.startTestRun()
try:
    stream.run(result)
finally:
    result.stopTestRun()
json.dump({'passed': counts['success'], 'skipped': counts['skip'], 'failed': failed, 'suites': suites, 'skip_reasons': skip_reasons}, sys.stdout, indent=1)
