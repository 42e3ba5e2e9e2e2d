"""FastAPI dependencies shared by the JSON API routers."""

from typing import Annotated

from fastapi import Depends, Request

from app.services import Services
from app.store.tokens import Principal


def services_of(request: Request) -> Services:
    """The app's long-lived services."""
    services: Services = request.app.state.services
    return services


async def reader(request: Request) -> Principal:
    """An engineer or customer allowed to read the API."""
    return await services_of(request).tokens.require_reader(request)


ServicesDep = Annotated[Services, Depends(services_of)]
ReaderDep = Annotated[Principal, Depends(reader)]
