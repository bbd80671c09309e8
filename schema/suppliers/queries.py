from __future__ import annotations

import strawberry

from registry.problems import DomainError
from registry.suppliers import services as suppliers
from schema.common.convert import actor, opt, page_size
from schema.common.errors import CodedError
from schema.common.nodes import register_node
from schema.performers.types import VerificationStatus
from schema.permissions import needs
from schema.suppliers.types import ProductCategory, Supplier, SupplierConnection


@register_node("sup", "Supplier", "suppliers:read")
async def supplier_node(info: strawberry.Info, node_id: str) -> Supplier | None:
    record = await suppliers.get_supplier(actor(info), node_id)
    return Supplier.from_record(record) if record else None


@strawberry.type
class SuppliersQueries:
    @strawberry.field(description="[suppliers:read]", permission_classes=[needs("suppliers:read")])
    async def supplier(self, info: strawberry.Info, id: strawberry.ID) -> Supplier | None:
        return await supplier_node(info, id)

    @strawberry.field(description="[suppliers:read]", permission_classes=[needs("suppliers:read")])
    async def supplier_by_ref(self, info: strawberry.Info, external_ref: str) -> Supplier | None:
        record = await suppliers.supplier_by_ref(actor(info), external_ref)
        return Supplier.from_record(record) if record else None

    @strawberry.field(description="[suppliers:read]", permission_classes=[needs("suppliers:read")])
    async def suppliers(
        self,
        info: strawberry.Info,
        first: int | None = 20,
        after: str | None = strawberry.UNSET,
        status: VerificationStatus | None = strawberry.UNSET,
        category: ProductCategory | None = strawberry.UNSET,
    ) -> SupplierConnection | None:
        try:
            found = await suppliers.list_suppliers(
                actor(info), first=page_size(info, first), after=opt(after), status=opt(status), category=opt(category)
            )
        except DomainError as exc:  # a cursor this API did not hand out
            raise CodedError(exc.problems[0].message, "BAD_USER_INPUT") from None
        return SupplierConnection.from_page(found)
