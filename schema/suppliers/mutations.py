from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.permissions import needs
from schema.suppliers.inputs import ImportSuppliersInput, SupplierInput

if TYPE_CHECKING:
    from schema.suppliers.types import ImportSuppliersPayload, UpsertSupplierPayload


@strawberry.type
class SuppliersMutations:
    @strawberry.field(description="[suppliers:write]", permission_classes=[needs("suppliers:write")])
    async def upsert_supplier(
        self, info: strawberry.Info, input: SupplierInput
    ) -> Annotated[UpsertSupplierPayload, strawberry.lazy("schema.suppliers.types")]:
        raise not_implemented("upsertSupplier")

    @strawberry.field(description="[suppliers:write]", permission_classes=[needs("suppliers:write")])
    async def import_suppliers(
        self, info: strawberry.Info, input: ImportSuppliersInput
    ) -> Annotated[ImportSuppliersPayload, strawberry.lazy("schema.suppliers.types")]:
        raise not_implemented("importSuppliers")
