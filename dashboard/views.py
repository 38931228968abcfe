"""Dashboard pages: they read through selectors and write through services only."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "dashboard/home.html")
