import factory
from django.contrib.auth.models import Permission

from core.tokens import token_hash
from schools.models import ApiClient, Device, DeviceGroup, School, StaffMembership, Student


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School

    name = factory.Sequence(lambda n: f"第{n}实验小学")
    code = factory.Sequence(lambda n: f"school{n}")
    require_claim_code = False  # the model's default is True; binding tests opt in where they test codes


class DeviceGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeviceGroup

    school = factory.SubFactory(SchoolFactory)
    name = factory.Sequence(lambda n: f"教学楼{n}")
    group_id = factory.Sequence(lambda n: f"grp_{n:012x}")
    model_id = "mdl_campusphone_v2"  # DeviceFactory's
    model_type = "校园电话"


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    school = factory.SubFactory(SchoolFactory)
    sn = factory.Sequence(lambda n: f"SN-{n:06d}")
    model_id = "mdl_campusphone_v2"
    device_name = factory.Sequence(lambda n: f"{n % 9 + 1}楼走廊")
    model_type = "校园电话"


class StudentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Student

    school = factory.SubFactory(SchoolFactory)
    user_id = factory.Sequence(lambda n: f"wxfp_{n:024x}")
    name = factory.Iterator(["王子涵", "李思琪", "张浩宇", "刘欣怡", "陈一诺"])
    grade = "三年级"
    class_name = "三年级2班"
    student_number = factory.Sequence(lambda n: f"2024{n:04d}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "auth.User"
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


class StaffMembershipFactory(factory.django.DjangoModelFactory):
    """``permissions=``: the user's permissions, as app labels (``("schools", "contacts")``) or Permissions."""

    class Meta:
        model = StaffMembership
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    school = factory.SubFactory(SchoolFactory)

    @factory.post_generation
    def permissions(self, create, extracted, **kwargs):
        if extracted is None:
            return
        if all(isinstance(label, str) for label in extracted):
            extracted = Permission.objects.filter(content_type__app_label__in=extracted)
        self.user.user_permissions.set(extracted)


class ApiClientFactory(factory.django.DjangoModelFactory):
    """A vendor's API client; ``schools=[...]`` grants it those schools (none by default)."""

    class Meta:
        model = ApiClient
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"厂商{n}")
    appid = factory.Sequence(lambda n: f"wxvendor{n:08d}")
    secret_hash = factory.LazyAttribute(lambda o: token_hash(f"secret-{o.appid}"))

    @factory.post_generation
    def schools(self, create, extracted, **kwargs):
        if create and extracted:
            self.schools.add(*extracted)
