rtl/sparq_crc16.v
rtl/sparq_ram.v
rtl/sparq_requant.v
rtl/sparq_pe.v
rtl/sparq_array.v
rtl/sparq_engine.v
rtl/sparq_ctrl.v
rtl/sparq_top.v
