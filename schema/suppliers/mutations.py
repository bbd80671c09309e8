from __future__ import annotations

import strawberry

from registry.suppliers import services as suppliers
from registry.suppliers.checks import SupplierInput as SupplierData
from registry.suppliers.licenses import LicenseInput as LicenseData
from schema.common.convert import actor, opt, problems_out
from schema.common.inputs import document_input
from schema.permissions import needs
from schema.suppliers.inputs import ImportSuppliersInput, SupplierInput
from schema.suppliers.types import ImportSuppliersPayload, RowProblems, Supplier, UpsertSupplierPayload


def supplier_data(data: SupplierInput) -> SupplierData:
    # Enum inputs arrive as their string values (the schema is sorted; see schema.common.enums).
    identity = opt(data.identity)
    return SupplierData(
        external_ref=data.external_ref,
        kind=str(data.kind),
        name=data.name,
        address=data.address,
        contact_phone=data.contact_phone,
        categories=[str(c) for c in data.categories],
        credit_code=opt(data.credit_code),
        identity=document_input(identity) if identity is not None else None,
        licenses=[LicenseData(str(x.type), x.number, opt(x.valid_until)) for x in data.licenses or ()],
    )


@strawberry.type
class SuppliersMutations:
    @strawberry.field(description="[suppliers:write]", permission_classes=[needs("suppliers:write")])
    async def upsert_supplier(self, info: strawberry.Info, input: SupplierInput) -> UpsertSupplierPayload:
        outcome = await suppliers.upsert_supplier(actor(info), supplier_data(input))
        record = outcome.supplier
        return UpsertSupplierPayload(
            supplier=Supplier.from_record(record) if record else None, problems=problems_out(info, outcome.problems)
        )

    @strawberry.field(description="[suppliers:write]", permission_classes=[needs("suppliers:write")])
    async def import_suppliers(self, info: strawberry.Info, input: ImportSuppliersInput) -> ImportSuppliersPayload:
        rows = [supplier_data(row) for row in input.rows]
        result = await suppliers.import_suppliers(actor(info), rows, limit=info.context.import_limit)
        return ImportSuppliersPayload(
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            rejected=[
                RowProblems(row=r.row, external_ref=r.external_ref, problems=problems_out(info, r.problems))
                for r in result.rejected
            ],
            problems=problems_out(info, result.problems),
        )
