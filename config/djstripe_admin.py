"""A guard in front of dj-stripe's admin confirm-action view.

dj-stripe routes `<admin>/djstripe/<model>/action/<action>/<model name>/` to a view that
answers 500 on a plain GET, on an unknown model or action, and on non-numeric ids. Its own
flow only ever POSTs there (the changelist action renders a confirmation form). The guard
lets through only that: a POST by staff, for a model dj-stripe registered, an action that
model's admin offers, and numeric ids; anything else is a 4xx.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.contrib.admin import helpers
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed
from django.urls import path
from djstripe.admin.views import ConfirmCustomAction

from config.ids import is_id

_confirm = ConfirmCustomAction.as_view()


def djstripe_action(request, model: str, action_name: str, model_name: str):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    model_admin = _model_admin(model_name)
    if model_admin is None or model != model_name:
        raise Http404("No such dj-stripe model.")
    if action_name not in model_admin.get_actions(request):
        raise Http404("No such action.")
    picked = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    if action_name != "_sync_all_instances" and not all(is_id(pk) for pk in picked):
        return HttpResponseBadRequest("Objects are picked by numeric id.")
    return _confirm(request, action_name=action_name, model_name=model_name)


def _model_admin(model_name: str):
    try:
        model = apps.get_app_config("djstripe").get_model(model_name)
    except LookupError:
        return None
    return admin.site._registry.get(model)


def djstripe_action_urls(admin_url: str) -> list:
    """Routes to put before the admin's own, so they win."""
    return [
        path(
            f"{admin_url}djstripe/<str:model>/action/<str:action_name>/<str:model_name>/",
            admin.site.admin_view(djstripe_action),
        )
    ]
