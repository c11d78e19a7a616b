"""The contract declares the object types Graph reads without delta (issue 20.1): PIM's eligible
role assignments, opt-in, at their v1.0 list path, with the list page's permissions."""

from entrasync_shared.subjects import (
    DEFAULT_OBJECT_TYPES,
    FULL_LIST_TYPES,
    GRAPH_PATHS,
    OBJECT_TYPE_NAMES,
    OBJECT_TYPES,
    READ_PERMISSIONS,
)


def test_eligible_role_assignments_are_an_opt_in_type_read_without_delta() -> None:
    assert FULL_LIST_TYPES == ("roleEligibility",)
    assert set(FULL_LIST_TYPES) <= set(OBJECT_TYPES)
    assert "roleEligibility" not in DEFAULT_OBJECT_TYPES
    assert GRAPH_PATHS["roleEligibility"] == "roleManagement/directory/roleEligibilitySchedules"
    assert OBJECT_TYPE_NAMES["roleEligibility"] == "eligible role assignments"


def test_eligible_role_assignments_need_a_role_management_permission_not_directory_read() -> None:
    least, *higher = READ_PERMISSIONS["roleEligibility"]
    assert least == "RoleEligibilitySchedule.Read.Directory"
    assert "RoleManagement.Read.Directory" in higher
    assert "Directory.Read.All" not in READ_PERMISSIONS["roleEligibility"]
