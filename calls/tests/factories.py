import factory

from calls.models import AuthorizationSource, DeviceAuthorization
from contacts.tests.factories import ParentFactory


class DeviceAuthorizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeviceAuthorization

    parent = factory.SubFactory(ParentFactory)
    status = 1
    source = AuthorizationSource.REQUEST
