"""Why the operator console refused a draft, in the reader's language: the API's refusals
(ingest/operator_api.py, the area reader, IncidentService) carry a stable code and the params
their sentence names (errors.CodedError), and each code the console can meet is a whole
sentence here, in the pages' catalogs. A refusal with no sentence here still reaches the
operator, in the API's English words behind a translated lead. Pure: no database."""

from __future__ import annotations

from outage_notify.errors import CodedError
from outage_notify.public.words import ENGLISH, N_, Voice

# The form's labels (templates/pages/console.html), so a sentence names the field as the
# operator sees it.
FIELD_WORDS = {
    "external_id": N_("Incident id"),
    "kind": N_("Kind"),
    "status": N_("Status"),
    "cause": N_("Cause"),
    "etr": N_("Estimated repair"),
    "starts_at": N_("Planned work starts"),
    "ends_at": N_("Planned work ends"),
    "message": N_("Note to customers"),
    "area": N_("Area (GeoJSON)"),
}
# A refusal's code as the console says it; %(field)s is the field's label, always first, so
# no language has to inflect it.
REFUSALS = {
    "external_id_required": N_("Give the incident an id."),
    "text_too_long": N_("%(field)s: at most %(limit)s characters."),
    "text_control": N_("%(field)s: control characters are not allowed; write plain text."),
    "text_type": N_("%(field)s: must be text."),
    "choice": N_("%(field)s: choose one from the list."),
    "time_format": N_("%(field)s: give a date and a time of day."),
    "time_range": N_("%(field)s: not a date this service can take; check the year."),
    "incident_needs_area": N_("Draw the area on the map (or give it as GeoJSON)."),
    "planned_needs_window": N_("Planned work needs the time it starts and the time it ends."),
    "window_order": N_("Planned work must end after it starts."),
    "etr_passed": N_(
        "The estimated repair time has already passed: give a time ahead, or leave it empty."
    ),
    "incident_closed": N_(
        "This incident is over and can no longer change: start a new incident instead."
    ),
    "incident_unknown": N_("There is no such incident."),
    "kind_fixed": N_("The kind of an incident cannot change."),
    "area_json": N_("The area is not GeoJSON: draw it on the map instead."),
    "area_not_polygon": N_("The area must be a polygon (a GeoJSON Polygon or MultiPolygon)."),
    "area_positions": N_("The area's positions must be pairs of numbers: [longitude, latitude]."),
    "area_ring_short": N_("The area needs at least three corners."),
    "area_vertices": N_("The area has more than %(limit)s corners: draw a simpler outline."),
    "area_range": N_(
        "The area lies off the map: longitude must be within -180…180 and latitude -90…90."
    ),
    "area_degenerate": N_("The area encloses no ground: draw an outline with some width."),
    "area_tangled": N_(
        "The area's outline crosses itself too often: draw one that does not cross itself."
    ),
    "area_outside_territory": N_(
        "The area lies wholly outside the service territory. "
        "If it was typed, are longitude and latitude swapped?"
    ),
    "area_swapped": N_(
        "The area looks like latitude and longitude swapped: as given it reaches %(given)s "
        "customers, with them exchanged %(exchanged)s."
    ),
}


def refusal_words(refusal: CodedError, *, voice: Voice = ENGLISH) -> str:
    """The refusal as one sentence in the voice's language."""
    sentence = REFUSALS.get(refusal.code or "")
    if sentence is None:
        return voice.gettext("The incident was refused: %(reason)s", reason=refusal.message)
    params = dict(refusal.params)
    field = params.get("field")
    if isinstance(field, str):
        params["field"] = voice.gettext(FIELD_WORDS[field]) if field in FIELD_WORDS else field
    return voice.gettext(sentence, **params)
