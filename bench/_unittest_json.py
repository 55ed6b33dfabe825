"""Run unittest modules (``load_tests`` honoured, as stestr does) and write
each test's outcome as JSON: ``python _unittest_json.py OUT.json MODULE...``.

Run by ``oslo_messaging_own_tests.py`` with the test venv's Python; it
imports nothing from offramp itself.
"""

import json
import sys
import unittest

outcomes = {}


class Result(unittest.TextTestResult):
    def addSuccess(self, test):
        outcomes[test.id()] = "pass"
        super().addSuccess(test)

    def addFailure(self, test, err):
        outcomes[test.id()] = "fail"
        super().addFailure(test, err)

    def addError(self, test, err):
        outcomes[test.id()] = "error"
        super().addError(test, err)

    def addSkip(self, test, reason):
        outcomes[test.id()] = "skip"
        super().addSkip(test, reason)

    def addExpectedFailure(self, test, err):
        outcomes[test.id()] = "xfail"
        super().addExpectedFailure(test, err)

    def addUnexpectedSuccess(self, test):
        outcomes[test.id()] = "xpass"
        super().addUnexpectedSuccess(test)


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[2:])
    unittest.TextTestRunner(resultclass=Result, verbosity=0, stream=sys.stderr).run(suite)
    with open(sys.argv[1], "w") as fh:
        json.dump(outcomes, fh, indent=1, sort_keys=True)
