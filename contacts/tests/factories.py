import factory

from contacts.models import Contact, Parent
from schools.tests.factories import StudentFactory


class ParentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Parent

    openid = factory.Sequence(lambda n: f"oParent{n:021d}")
    nickname = factory.Sequence(lambda n: f"家长{n}")
    voip_scope_granted = True


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    student = factory.SubFactory(StudentFactory)
    parent = factory.SubFactory(ParentFactory)
    role = Contact.Role.ORDINARY
    relation = "妈妈"
    bound_via = Contact.BoundVia.SHARE_LINK
    state = Contact.State.CONFIRMED  # WeChat has it
