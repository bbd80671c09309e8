from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.performers.types import VerificationStatus
from schema.permissions import needs
from schema.suppliers.types import ProductCategory

if TYPE_CHECKING:
    from schema.suppliers.types import Supplier, SupplierConnection


@strawberry.type
class SuppliersQueries:
    @strawberry.field(description="[suppliers:read]", permission_classes=[needs("suppliers:read")])
    async def supplier(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> Annotated[Supplier, strawberry.lazy("schema.suppliers.types")] | None:
        raise not_implemented("supplier")

    @strawberry.field(description="[suppliers:read]", permission_classes=[needs("suppliers:read")])
    async def supplier_by_ref(
        self, info: strawberry.Info, external_ref: str
    ) -> Annotated[Supplier, strawberry.lazy("schema.suppliers.types")] | None:
        raise not_implemented("supplierByRef")

    @strawberry.field(description="[suppliers:read]", permission_classes=[needs("suppliers:read")])
    async def suppliers(
        self,
        info: strawberry.Info,
        first: int | None = 20,
        after: str | None = strawberry.UNSET,
        status: VerificationStatus | None = strawberry.UNSET,
        category: ProductCategory | None = strawberry.UNSET,
    ) -> Annotated[SupplierConnection, strawberry.lazy("schema.suppliers.types")] | None:
        raise not_implemented("suppliers")
