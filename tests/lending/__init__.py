"""Tests of lending: rules, services, requests, the scan journal, races, documents and the CLI."""
