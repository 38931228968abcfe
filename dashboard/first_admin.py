"""The first admin's page, opened from the one-time setup link a server prints while no superuser exists."""

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from containersvc.errors import NotFound
from containersvc.services import accounts


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def first_admin(request: HttpRequest, token: str) -> HttpResponse:
    """A used or unknown link, or one opened after an admin exists, is 404 like any missing page."""
    if not accounts.setup_token_valid(token=token):
        raise Http404(accounts.MESSAGE_SETUP_LINK_INVALID)
    # UserCreationForm: a free username, the password twice, and every AUTH_PASSWORD_VALIDATORS check.
    form: UserCreationForm = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = accounts.first_admin_create(
                token=token, username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except NotFound as error:
            raise Http404(error.message) from error
        # The password was just set here: the session is bound to the project's own (first) backend.
        login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        return redirect("dashboard:containers")
    return render(request, "dashboard/first_admin.html", {"form": form}, status=400 if form.errors else 200)
