"""A new instance has a sampling policy to steer (issue 22, item 5): `make run` creates the
row with the ratio OTEL_TRACES_SAMPLER already has, and with no row the admin goes straight
to the form that creates it, saying what decides until then."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from telemetry.models import SamplingPolicy

pytestmark = pytest.mark.django_db


def ensure(monkeypatch, **environment: str) -> str:
    for name in ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    call_command("ensure_sampling_policy", stdout=out)
    return out.getvalue()


def test_it_creates_the_policy_as_the_default_sampler_has_it(monkeypatch):
    said = ensure(monkeypatch)
    (policy,) = SamplingPolicy.objects.all()
    assert policy.default_ratio == 1.0
    assert "created with default ratio 1" in said


def test_it_keeps_the_ratio_the_environment_names(monkeypatch):
    ensure(
        monkeypatch, OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1"
    )
    assert SamplingPolicy.objects.get().default_ratio == pytest.approx(0.1)


def test_it_runs_once(monkeypatch):
    ensure(monkeypatch)
    said = ensure(monkeypatch, OTEL_TRACES_SAMPLER="parentbased_always_off")
    assert SamplingPolicy.objects.get().default_ratio == 1.0  # the operator's row is kept
    assert "exists" in said


def test_it_leaves_a_sampler_no_policy_can_express_to_decide(monkeypatch):
    said = ensure(monkeypatch, OTEL_TRACES_SAMPLER="always_on")  # ignores parents
    assert not SamplingPolicy.objects.exists()
    assert "OTEL_TRACES_SAMPLER=always_on decides" in said


def test_with_no_row_the_admin_opens_the_form_that_creates_it(staff_session, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    response = staff_session.get("/admin/telemetry/samplingpolicy/", follow=True)
    assert response.redirect_chain[-1][0] == "/admin/telemetry/samplingpolicy/add/"
    page = response.content.decode()
    assert "No sampling policy yet: OTEL_TRACES_SAMPLER=parentbased_traceidratio" in page
    assert 'name="default_ratio" value="0.25"' in page  # saving keeps sampling as it is


def test_with_the_row_the_admin_opens_it(staff_session):
    policy = SamplingPolicy.objects.create(default_ratio=0.5)
    response = staff_session.get("/admin/telemetry/samplingpolicy/")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/telemetry/samplingpolicy/{policy.pk}/change/"
