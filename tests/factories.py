"""factory_boy factories of the models the tests build again and again; a test names only
the fields its assertion is about."""

from __future__ import annotations

import factory

from processing.models import ProcessingJob
from telemetry.models import SamplingPolicy, SamplingRule
from users.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ProcessingJobFactory(factory.django.DjangoModelFactory):
    """A queued job of nobody's (created_by stays empty, as for a job queued anonymously)."""

    class Meta:
        model = ProcessingJob

    data = factory.Sequence(lambda n: f"job {n} data")


class SamplingPolicyFactory(factory.django.DjangoModelFactory):
    """A stored policy that keeps everything unless a test says otherwise."""

    class Meta:
        model = SamplingPolicy

    default_ratio = 1.0


class SamplingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SamplingRule

    policy = factory.SubFactory(SamplingPolicyFactory)
    position = factory.Sequence(lambda n: n)
    kind = SamplingRule.Kind.HTTP
    pattern = r"^GET /api/"
    ratio = 1.0
